import ArgumentParser
import Attribution
import Workbench

extension AveragedMapSettings.Baseline: ExpressibleByArgument {}
extension AveragedMapSettings.Integration: ExpressibleByArgument {}
extension AveragedMapSettings.Perturbation: ExpressibleByArgument {}

/// The settings of the `scdam` (Smooth CDAM) and `icdam` (Integrated CDAM) maps: shared by `query` and `report`.
struct AveragedMapArguments: ParsableArguments {
    // .unconditional: "-3" is read as the value (and refused with the range), not as an unknown option.
    @Option(name: .customLong("smooth-samples"), parsing: .unconditional, help: ArgumentHelp("scdam: noisy copies averaged (N; one pass each).", valueName: "n"))
    var samples = 16

    @Option(name: .customLong("smooth-sigma"), parsing: .unconditional, help: ArgumentHelp("scdam: the noise's standard deviation as a fraction of the input's range (max - min).", valueName: "fraction"))
    var sigma: Float = 0.05

    @Option(parsing: .unconditional, help: ArgumentHelp("scdam: the noise's seed (the same seed, the same map).", valueName: "n"))
    var seed: UInt64 = 0

    @Option(name: .customLong("integrated-steps"), parsing: .unconditional, help: ArgumentHelp("icdam: steps M along the path (M + 1 passes with trapezoid, M with riemann).", valueName: "m"))
    var steps = 16

    @Option(help: ArgumentHelp("icdam: where the path starts: a black image, the image blurred (sigma = side/16), or its mean colour.", valueName: "black|blurred|mean"))
    var baseline: AveragedMapSettings.Baseline = .black

    @Option(help: ArgumentHelp("icdam: the quadrature along the path.", valueName: "trapezoid|riemann"))
    var integration: AveragedMapSettings.Integration = .trapezoid

    @Option(help: ArgumentHelp("scdam, icdam: perturb the pixels (every copy runs the whole model) or the tokens entering the last attention (only the last block runs: about 10x cheaper).", valueName: "pixels|tokens"))
    var perturb: AveragedMapSettings.Perturbation = .pixels

    func validate() throws {
        guard (1...4096).contains(samples) else { throw ValidationError("--smooth-samples \(samples): give a number from 1 to 4096 (16 is usual)") }
        guard sigma.isFinite, sigma >= 0, sigma <= 1 else { throw ValidationError("--smooth-sigma \(sigma): give a fraction of the input's range from 0 to 1 (0.05 to 0.2 is usual)") }
        guard (1...4096).contains(steps) else { throw ValidationError("--integrated-steps \(steps): give a number from 1 to 4096 (16 is usual)") }
    }

    var settings: AveragedMapSettings {
        var s = AveragedMapSettings.workbench
        s.samples = samples; s.sigma = sigma; s.seed = seed
        s.steps = steps; s.baseline = baseline; s.integration = integration; s.perturb = perturb
        return s
    }
}
