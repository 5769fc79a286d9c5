// ViT module.
