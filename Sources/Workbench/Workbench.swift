// Workbench module.
