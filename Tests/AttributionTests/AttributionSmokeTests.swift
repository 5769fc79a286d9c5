import Testing

@Test func AttributionBuilds() { #expect(Bool(true)) }
