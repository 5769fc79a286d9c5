import Testing

@Test func ConceptsBuilds() { #expect(Bool(true)) }
