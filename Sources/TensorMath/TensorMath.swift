// TensorMath module.
