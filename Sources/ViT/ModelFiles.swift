// The model's files (config.json, safetensors, ONNX conversion, fetch) are parsed in the `ModelFiles`
// target, built with Swift's checks (no -Ounchecked): they read untrusted bytes. ViT re-exports them so
// that users of the model see one module.
@_exported import ModelFiles
