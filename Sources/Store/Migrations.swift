// The schema migrations, compiled into the binary from migrations/*.sql (Sources/Store/SQL links there):
// SwiftPM embeds each file named in Package.swift's Store target as a byte array, so no resource bundle
// can be lost when `cdam` is copied elsewhere.

/// The schema migrations, in the order they are applied: (identifier, SQL).
let embeddedMigrations: [(id: String, sql: String)] = [
    ("0001_initial", String(decoding: PackageResources._001_initial_sql, as: UTF8.self)),
    ("0002_heads", String(decoding: PackageResources._002_heads_sql, as: UTF8.self)),
]
