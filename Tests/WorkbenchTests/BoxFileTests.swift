import Attribution
import Foundation
import Testing
@testable import Workbench

/// `query --boxes FILE` (issue 14): the JSON and CSV forms, matching entries to images, and clear errors.
struct BoxFileTests {
    func write(_ text: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-boxes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test func jsonAndCSVSayTheSame() throws {
        let json = try BoxFile.load(write(#"[{"image": "catdog.png", "label": "dog", "box": [75, 12, 165, 147]}, {"image": "pics/catdog.png", "label": "Cat", "x0": 45, "y0": 118, "x1": 200, "y1": 224}]"#, "b.json"))
        let csv = try BoxFile.load(write("# boxes\nimage,label,x0,y0,x1,y1\ncatdog.png, dog ,75,12,165,147\n\"pics/catdog.png\",Cat,45,118,200,224\n", "b.csv"))
        #expect(json.boxes == csv.boxes)
        let url = URL(fileURLWithPath: "/data/pics/catdog.png")
        #expect(json.boxes(for: url, label: "dog") == [PixelBox(x0: 75, y0: 12, x1: 165, y1: 147)])
        #expect(json.boxes(for: url, label: "cat").count == 1)   // labels match without regard to case
        #expect(json.boxes(for: URL(fileURLWithPath: "/data/other/catdog.png"), label: "cat").isEmpty)
        #expect(json.boxes(for: URL(fileURLWithPath: "/data/pics/hotcatdog.png"), label: "dog").isEmpty)   // whole components only
        #expect(json.labels == ["dog", "Cat"])
        // Without a known extension, JSON then CSV.
        #expect(try BoxFile.load(write("a.png,x,1,2,3,4\n", "boxes.txt")).boxes.count == 1)
        #expect(try BoxFile.load(write(#"{"boxes": [{"image": "a.png", "label": "x", "box": [1, 2, 3, 4]}]}"#, "boxes")).boxes.count == 1)
    }

    @Test(arguments: [
        ("b.csv", "a.png,dog,10,10,5,20\n", "line 1"),
        ("b.csv", "a.png,dog,10,10\n", "6 fields"),
        ("b.csv", "a.png,dog,1,2,x,4\n", "'x' is not a number"),
        ("b.csv", "image,label,x0,y0,x1,y1\n", "no boxes"),
        ("b.json", #"[{"image": "a.png", "label": "dog", "box": [1, 2, 3]}]"#, "4 numbers"),
        ("b.json", #"[{"image": "a.png", "box": [1, 2, 3, 4]}]"#, "\"label\""),
        ("b.json", "[{", "not valid JSON"),
        ("b.json", #"[{"image": "a.png", "label": "dog", "box": [-1, 2, 3, 4]}]"#, "0 <= x0 < x1"),
    ])
    func badFilesAreRefusedWithTheReason(_ name: String, _ text: String, _ expected: String) throws {
        let path = try write(text, name)
        do {
            _ = try BoxFile.load(path)
            Issue.record("\(text) was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix(path) && message.contains(expected), "\(message)")
            #expect(!message.contains("\n"))
        }
    }
}
