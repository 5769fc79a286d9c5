import Testing

@Test func WorkbenchBuilds() { #expect(Bool(true)) }
