import Testing

@Test func StoreBuilds() { #expect(Bool(true)) }
