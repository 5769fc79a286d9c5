import Concepts
import Store

/// Targets from stored concepts for `query`: names, `all`, and "A,B" contrasts.
///
/// A concept that cannot be used (unknown, or made with another model) is reported and skipped, so the
/// others still run; the caller exits 3 when any was skipped.
/// - Throws: `StoreError` on database failures.
public func storedTargets(names: [String], contrasts: [String], modelName: String,
                          store: Store) throws -> (targets: [Target], errors: [String]) {
    var targets: [Target] = [], errors: [String] = []
    func lookup(_ name: String) -> Target? {
        do {
            return try target(of: resolveConcept(name, modelName: modelName, store: store).concept)
        } catch {
            errors.append((error as? CustomStringConvertible)?.description ?? "\(error)")
            return nil
        }
    }
    for name in names {
        if name == "all" {
            guard let model = try store.model(named: modelName) else {
                errors.append("no concepts are stored for model \(modelName) (see `cdam concept list`)")
                continue
            }
            let all = try store.concepts(modelID: model.id)
            if all.isEmpty { errors.append("no concepts are stored for model \(modelName); define one with `cdam concept define`") }
            for record in all { if let t = try? target(of: record) { targets.append(t) } }
        } else if let t = lookup(name) {
            targets.append(t)
        }
    }
    for pair in contrasts {
        let parts = pair.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else {
            errors.append("--contrast \(pair): expected two concept names, A,B")
            continue
        }
        guard let a = lookup(parts[0]), let b = lookup(parts[1]) else { continue }
        guard !a.isCosine, !b.isCosine, a.direction.count == b.direction.count else {
            errors.append("--contrast \(pair): cosine concepts have no linear difference; use mean, centred, probe or whitened concepts")
            continue
        }
        // f_A - f_B is linear again: direction w_A - w_B, offset b_A - b_B.
        targets.append(Target(name: "\(a.name)-not-\(b.name)", kind: .contrast,
                              direction: zip(a.direction, b.direction).map { $0 - $1 }, bias: a.bias - b.bias))
    }
    return (targets, errors)
}
