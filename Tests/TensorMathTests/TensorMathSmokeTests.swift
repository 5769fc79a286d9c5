import Testing

@Test func TensorMathBuilds() { #expect(Bool(true)) }
