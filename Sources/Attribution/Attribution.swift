// Attribution module.
