-- 0002: linear heads for class CDAM: softmax classifiers on a model's CLS embeddings, trained on
-- labelled folders (`cdam head train`) or imported from a checkpoint's safetensors file.

CREATE TABLE heads (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL CHECK (length(name) > 0),
    model_id         INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    -- The preprocessing of the embeddings it was trained on (empty for an imported head).
    preprocessing_id TEXT NOT NULL,
    -- JSON array of the class names, in the order of the weights' rows.
    labels           TEXT NOT NULL,
    classes          INTEGER NOT NULL CHECK (classes >= 2),
    width            INTEGER NOT NULL CHECK (width > 0),
    -- classes x width float32, row-major: logit k = weights[k] . e + bias[k].
    weights          BLOB NOT NULL CHECK (length(weights) = 4 * classes * width),
    bias             BLOB NOT NULL CHECK (length(bias) = 4 * classes),
    source           TEXT NOT NULL CHECK (source IN ('trained', 'imported')),
    -- JSON: C, iterations, objective, converged, or the imported file and its tensor names.
    hyperparameters  TEXT NOT NULL DEFAULT '{}',
    -- JSON of the last `cdam head eval` (accuracy, per class, confusion), '{}' before any.
    evaluation       TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX heads_name_model ON heads(name, model_id);

-- The training images of a head, with the class each was labelled and the path it was read from.
-- An image a head references is never pruned (RESTRICT, and `collection prune` skips it).
CREATE TABLE head_images (
    id          INTEGER PRIMARY KEY,
    head_id     INTEGER NOT NULL REFERENCES heads(id) ON DELETE CASCADE,
    image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE RESTRICT,
    class_index INTEGER NOT NULL CHECK (class_index >= 0),
    path        TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX head_images_key ON head_images(head_id, image_id);
CREATE INDEX head_images_image ON head_images(image_id);
