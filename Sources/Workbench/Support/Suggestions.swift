import Foundation
import Store

/// The name among `names` nearest to `name` by edit distance, when it is close enough to be a typo
/// (1 edit for names under 4 characters, else 2 or a third of its length, at most 3).
public func closestName(to name: String, among names: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
    let target = Array(name.lowercased())
    let scored = names.map { ($0, distance(target, Array($0.lowercased()))) }.filter { $0.0 != name }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= min(3, name.count >= 4 ? max(2, name.count / 3) : 1) ? best.0 : nil
}

/// " did you mean 'X'?" for a misspelt name, or "".
func didYouMean(_ name: String, among names: [String]) -> String {
    closestName(to: name, among: names).map { "; did you mean '\($0)'?" } ?? ""
}

/// The collection `name`, or an error that names the closest existing one.
/// - Throws: `WorkbenchError.failed` for an unknown collection; `StoreError`.
func requireCollection(_ name: String, store: Store) throws -> CollectionSummary {
    if let found = try store.collection(named: name) { return found }
    let names = try store.collections().map(\.name)
    throw WorkbenchError.failed("collection '\(name)' does not exist\(didYouMean(name, among: names)) (see `cdam collection list`)")
}
