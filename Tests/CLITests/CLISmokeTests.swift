import Testing

@Test func CLIBuilds() { #expect(Bool(true)) }
