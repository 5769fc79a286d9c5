import Attribution
import Testing

/// Localisation with boxes (issue 14) on synthetic maps: positive mass inside the box and the pointing game.
struct LocalisationTests {
    /// A 4 x 4 grid over a 40 x 40 image: patch (r, c) covers x 10c..<10c+10, y 10r..<10r+10.
    static let region = (x: 0.0, y: 0.0, width: 40.0, height: 40.0)

    @Test func coverageCountsPartialPatchesAndTheUnionOnce() {
        // The top-left 2 x 2 patches, and half of patch (0, 2).
        let box = PixelBox(x0: 0, y0: 0, x1: 25, y1: 20)
        let c = BoxCoverage(boxes: [box], gridHeight: 4, gridWidth: 4, region: Self.region)
        #expect(c.fraction[0] == 1 && c.fraction[1] == 1 && c.fraction[4] == 1 && c.fraction[5] == 1)
        #expect(c.fraction[2] == 0.5 && c.fraction[6] == 0.5 && c.fraction[3] == 0 && c.fraction[8] == 0)
        #expect(c.centreInside[0] && !c.centreInside[2] && !c.centreInside[3])
        #expect(abs(c.share - 5.0 / 16) < 1e-6)
        // Two overlapping boxes count their overlap once.
        let twice = BoxCoverage(boxes: [box, box], gridHeight: 4, gridWidth: 4, region: Self.region)
        #expect(twice == c)
    }

    @Test func coverageFollowsTheRegionTheModelSaw() {
        // A centre crop: the grid covers x 10..<30 of a 40 x 20 image, 2 x 2 patches of 10 x 10.
        let c = BoxCoverage(boxes: [PixelBox(x0: 0, y0: 0, x1: 20, y1: 20)], gridHeight: 2, gridWidth: 2,
                            region: (x: 10, y: 0, width: 20, height: 20))
        #expect(c.fraction == [1, 0, 1, 0])
    }

    @Test func massInTheBoxCountsOnlyEvidence() {
        let coverage = BoxCoverage(boxes: [PixelBox(x0: 0, y0: 0, x1: 20, y1: 20)], gridHeight: 4, gridWidth: 4, region: Self.region)
        var map = [Float](repeating: 0, count: 16)
        map[0] = 3; map[5] = 1            // inside: 4
        map[15] = 1                       // outside: 1
        map[10] = -50                     // counter-evidence is left out
        let l = BoxLocalisation(map: map, coverage: coverage)
        #expect(abs(l.massInBox - 0.8) < 1e-6)
        #expect(l.pointingHit)
        #expect(abs(l.boxShare - 0.25) < 1e-6)

        // The largest value outside the box: a miss, though most of the mass is inside.
        map[15] = 3.5
        let miss = BoxLocalisation(map: map, coverage: coverage)
        #expect(!miss.pointingHit)
        #expect(abs(miss.massInBox - 4 / 7.5) < 1e-6)
    }

    @Test func aMapWithoutEvidenceNeitherPointsNorHasMass() {
        let coverage = BoxCoverage(boxes: [PixelBox(x0: 0, y0: 0, x1: 40, y1: 40)], gridHeight: 4, gridWidth: 4, region: Self.region)
        let l = BoxLocalisation(map: [Float](repeating: -1, count: 16), coverage: coverage)
        #expect(l.massInBox == 0 && !l.pointingHit && l.boxShare == 1)
        // A uniform positive map puts the boxes' share inside: chance level.
        let half = BoxCoverage(boxes: [PixelBox(x0: 0, y0: 0, x1: 40, y1: 20)], gridHeight: 4, gridWidth: 4, region: Self.region)
        #expect(abs(BoxLocalisation(map: [Float](repeating: 2, count: 16), coverage: half).massInBox - 0.5) < 1e-6)
    }
}
