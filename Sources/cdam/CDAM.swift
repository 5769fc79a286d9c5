import ArgumentParser

/// The `cdam` command: class-discriminative attention maps and concept probing for ViTs.
@main
struct CDAM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdam",
        abstract: "Concept-probing workbench for Vision Transformers (class-discriminative attention maps).",
        discussion: """
        Typical session:
          cdam model fetch                                  # install the default DINOv2 ViT-S/14
          cdam concept define dog --examples photos/dogs    # a concept from example images
          cdam query scene.jpg --concept dog --out maps/    # where is the evidence for "dog"?
          cdam index photos/ --collection mine              # embed a folder once
          cdam search --concept dog --collection mine       # which stored images match best
          cdam report dog --collection mine --out report/   # a page to read and share

        Home: $CDAM_HOME or --home (default ~/.local/share/cdam) holds models/ and cdam.sqlite.
        Exit codes: 0 done, 1 failed, 2 usage error, 3 some inputs failed.
        """,
        subcommands: [
            ModelCommand.self, EmbedCommand.self, QueryCommand.self, ConceptCommand.self,
            IndexCommand.self, CollectionCommand.self, SearchCommand.self, ReportCommand.self,
            BenchCommand.self,
        ]
    )
}
