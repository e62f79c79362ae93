-- A model declares what it serves: chat (chat completions, Messages,
-- Responses), embeddings, images. Models made before this serve chat only.
-- No duplicates is checked by the domain (a CHECK cannot hold a subquery).
ALTER TABLE models
    ADD COLUMN capabilities text[] NOT NULL DEFAULT '{chat}',
    ADD CONSTRAINT models_capabilities_check CHECK (
        cardinality(capabilities) >= 1
        AND capabilities <@ ARRAY['chat', 'embeddings', 'images']::text[]);
