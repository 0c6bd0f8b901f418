-- The indexes of the given tables that can be built again from the table: plain indexes and those of unique
-- constraints (added back as constraints), but neither primary keys nor any index a foreign key references.
-- GIN indexes only when $2: they take a batch of inserts into a large index cheaply through their pending list,
-- but grow from empty far slower than they are built. Each with the statement that drops it and the one that
-- builds it again.
SELECT CASE
           WHEN c.oid IS NULL THEN format('DROP INDEX %s', i.indexrelid::regclass)
           ELSE format('ALTER TABLE %s DROP CONSTRAINT %I', i.indrelid::regclass, c.conname)
       END AS drop_statement,
       CASE
           WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
           ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', i.indrelid::regclass, c.conname,
                       pg_get_constraintdef(c.oid))
       END AS create_statement
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint c
       ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY ($1::text[]::regclass[])
  AND (c.oid IS NULL OR c.contype = 'u')
  AND ($2 OR am.amname <> 'gin')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
ORDER BY i.indexrelid
