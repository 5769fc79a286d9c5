-- 0001: the first schema of the concept store.
-- Timestamps are ISO 8601 UTC text; JSON columns hold UTF-8 JSON text; vectors are
-- float32 little-endian blobs.

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE models (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    weights_sha256 TEXT NOT NULL,
    width          INTEGER NOT NULL CHECK (width > 0),
    patch_size     INTEGER NOT NULL CHECK (patch_size > 0),
    preprocessing  TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX models_name ON models(name);

CREATE TABLE images (
    id        INTEGER PRIMARY KEY,
    sha256    TEXT NOT NULL CHECK (length(sha256) = 64),
    byte_size INTEGER NOT NULL CHECK (byte_size >= 0),
    format    TEXT NOT NULL,
    height    INTEGER NOT NULL CHECK (height > 0),
    width     INTEGER NOT NULL CHECK (width > 0)
) STRICT;
CREATE UNIQUE INDEX images_sha256 ON images(sha256);

CREATE TABLE image_paths (
    id         INTEGER PRIMARY KEY,
    image_id   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX image_paths_image_path ON image_paths(image_id, path);
CREATE INDEX image_paths_path ON image_paths(path);

CREATE TABLE embeddings (
    id               INTEGER PRIMARY KEY,
    image_id         INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    model_id         INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    preprocessing_id TEXT NOT NULL,
    vector           BLOB NOT NULL CHECK (length(vector) > 0 AND length(vector) % 4 = 0),
    created_at       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX embeddings_key ON embeddings(image_id, model_id, preprocessing_id);
CREATE INDEX embeddings_model ON embeddings(model_id, preprocessing_id, image_id);

CREATE TABLE concepts (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL CHECK (length(name) > 0),
    model_id         INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    direction        BLOB NOT NULL CHECK (length(direction) > 0 AND length(direction) % 4 = 0),
    bias             REAL NOT NULL DEFAULT 0,
    preprocessing_id TEXT NOT NULL,
    background       TEXT NOT NULL DEFAULT 'none',
    definition       TEXT NOT NULL DEFAULT '{}',
    quality          TEXT NOT NULL DEFAULT '{}',
    fingerprint      TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX concepts_name_model ON concepts(name, model_id);

CREATE TABLE concept_examples (
    id         INTEGER PRIMARY KEY,
    concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
    image_id   INTEGER NOT NULL REFERENCES images(id) ON DELETE RESTRICT,
    role       TEXT NOT NULL CHECK (role IN ('positive', 'negative', 'background'))
) STRICT;
CREATE UNIQUE INDEX concept_examples_key ON concept_examples(concept_id, image_id, role);
CREATE INDEX concept_examples_image ON concept_examples(image_id);

CREATE TABLE collections (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(name) > 0),
    created_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX collections_name ON collections(name);

CREATE TABLE collection_images (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    image_id      INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    added_at      TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX collection_images_key ON collection_images(collection_id, image_id);
CREATE INDEX collection_images_image ON collection_images(image_id);
