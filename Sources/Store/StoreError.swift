import Foundation
import GRDB

/// What went wrong with the concept store, in one line that begins with the database's path.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// The file or its folder cannot be opened or created.
    case cannotOpen(path: String, reason: String)
    /// The file exists but is not an SQLite database (or its header is damaged).
    case notADatabase(path: String)
    /// The database (or its folder) cannot be written.
    case readOnly(path: String)
    /// The disk is full: the current transaction was rolled back.
    case diskFull(path: String)
    /// Another process held the database longer than the busy timeout.
    case busy(path: String)
    /// SQLite found damage inside the file.
    case corrupt(path: String, detail: String)
    /// The database was migrated by a newer cdam and carries migrations this one does not know.
    case newerSchema(path: String, unknown: [String])
    /// A model name is already stored with other weights.
    case modelChanged(path: String, name: String, storedSHA256: String, givenSHA256: String)
    /// A concept exists, but only for another model than the one asked for.
    case conceptFromOtherModel(path: String, concept: String, definedWith: String, definedSHA256: String, requested: String)
    /// A vector's width does not match its model's.
    case widthMismatch(path: String, what: String, expected: Int, got: Int)
    /// An image referenced by sha256 was never stored.
    case unknownImage(path: String, sha256: String)
    /// A named record (model, collection, concept) does not exist.
    case notFound(path: String, what: String)
    /// Any other SQLite failure.
    case sqlite(path: String, message: String)
    /// A non-empty SQLite database that is not cdam's: refused before anything is written.
    case foreignDatabase(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open the database (\(reason)); check the path or pass another one with --db"
        case .notADatabase(let path):
            return "\(path): not an SQLite database (or its header is damaged); move it aside and run again, or pass another file with --db"
        case .readOnly(let path):
            return "\(path): the database cannot be written (read-only file, folder or disk); nothing stored was changed; make it writable or pass another file with --db"
        case .diskFull(let path):
            return "\(path): the disk is full; the current batch was rolled back and everything stored before it is intact; free some space and run again"
        case .busy(let path):
            return "\(path): the database stayed locked by another process for more than 5 s; wait for it to finish and run again"
        case .corrupt(let path, let detail):
            return "\(path): the database is damaged (\(detail)); restore a copy or move it aside and rebuild it"
        case .newerSchema(let path, let unknown):
            return "\(path): the database was upgraded by a newer cdam (unknown migrations: \(unknown.joined(separator: ", "))); use that version or another --db"
        case .modelChanged(let path, let name, let stored, let given):
            return "\(path): model '\(name)' is stored with weights sha256 \(stored.prefix(12))…, the installed weights are \(given.prefix(12))…; install the new weights under another model name, or use another --db"
        case .conceptFromOtherModel(let path, let concept, let definedWith, let sha, let requested):
            return "\(path): concept '\(concept)' was defined with model \(definedWith) (sha256 \(sha.prefix(12))…), not \(requested); re-define it with --model \(requested), or run with --model \(definedWith)"
        case .widthMismatch(let path, let what, let expected, let got):
            return "\(path): \(what) has \(got) numbers but the model's width is \(expected); re-embed with the right model"
        case .unknownImage(let path, let sha256):
            return "\(path): no stored image has sha256 \(sha256); embed it first"
        case .notFound(let path, let what):
            return "\(path): \(what)"
        case .sqlite(let path, let message):
            return "\(path): database error: \(message)"
        case .foreignDatabase(let path):
            return "\(path): an SQLite database of another program (its tables are not cdam's); nothing was written; pass a new file or a cdam database with --db"
        }
    }

    /// Translates a GRDB error into a store error naming `path`; other errors pass through.
    static func wrap(_ error: Error, path: String) -> Error {
        if error is StoreError { return error }
        guard let db = error as? DatabaseError else { return error }
        let message = (db.message ?? "\(db.resultCode)").replacingOccurrences(of: "\n", with: " ")
        switch db.resultCode {
        case .SQLITE_NOTADB: return StoreError.notADatabase(path: path)
        case .SQLITE_READONLY: return StoreError.readOnly(path: path)
        case .SQLITE_FULL: return StoreError.diskFull(path: path)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return StoreError.busy(path: path)
        case .SQLITE_CORRUPT: return StoreError.corrupt(path: path, detail: message)
        case .SQLITE_CANTOPEN: return StoreError.cannotOpen(path: path, reason: message)
        case .SQLITE_PERM, .SQLITE_AUTH: return StoreError.readOnly(path: path)
        case .SQLITE_IOERR:
            // ENOSPC surfaces as an I/O error on some file systems.
            if message.lowercased().contains("full") || message.lowercased().contains("space") {
                return StoreError.diskFull(path: path)
            }
            return StoreError.sqlite(path: path, message: "I/O error: \(message)")
        default: return StoreError.sqlite(path: path, message: message)
        }
    }
}
