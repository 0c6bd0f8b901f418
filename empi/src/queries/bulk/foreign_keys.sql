-- The foreign keys from one of the given tables to another, each with the statement that drops it and the one
-- that adds it again (which validates every row in one join instead of one lookup per inserted row).
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_statement,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS create_statement
FROM pg_constraint c
WHERE c.contype = 'f'
  AND c.conrelid = ANY ($1::text[]::regclass[])
  AND c.confrelid = ANY ($1::text[]::regclass[])
ORDER BY c.oid
