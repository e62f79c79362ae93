-- A value sealed under the master key when the database is first used, so
-- that a process started with another AIROUTER_MASTER_KEY refuses to start
-- instead of finding every provider key undecryptable.
CREATE TABLE master_key_check (
    id         integer     PRIMARY KEY DEFAULT 1,
    sealed     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT master_key_check_single CHECK (id = 1)
);
