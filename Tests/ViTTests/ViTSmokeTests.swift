import Testing

@Test func ViTBuilds() { #expect(Bool(true)) }
