ALTER TABLE models DROP COLUMN capabilities;
