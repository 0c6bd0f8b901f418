-- The indexes of the given tables that can be built again from the table: plain indexes and those of unique
-- constraints (added back as constraints), but neither primary keys nor any index a foreign key references.
-- GIN indexes only when $2: they take a batch of inserts into a large index cheaply through their pending list,
-- but grow from empty far slower than they are built. Only the indexes the write would change row by row: those of a
-- table that gets inserts ($3), and those that depend on a column that updates set (the pairs of $4 and $5: table,
-- column), as a key column, in an expression or in the predicate. Any other index stays: an update that leaves all of
-- its columns alone is made in place (HOT) when the page has room, and then adds no entry to it. Each with the
-- statement that drops it, the one that builds it again, its name and table, and whether it may be built after the
-- write commits (a plain index, which no rule depends on: neither unique nor a constraint's).
SELECT CASE
           WHEN c.oid IS NULL THEN format('DROP INDEX %s', i.indexrelid::regclass)
           ELSE format('ALTER TABLE %s DROP CONSTRAINT %I', i.indrelid::regclass, c.conname)
       END AS drop_statement,
       CASE
           WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
           ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', i.indrelid::regclass, c.conname,
                       pg_get_constraintdef(c.oid))
       END AS create_statement,
       i.indexrelid::regclass::text AS index_name,
       i.indrelid::regclass::text AS table_name,
       c.oid IS NULL AND NOT i.indisunique AS deferrable
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint c
       ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY ($1::text[]::regclass[])
  AND (c.oid IS NULL OR c.contype = 'u')
  AND ($2 OR am.amname <> 'gin')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
  AND (i.indrelid = ANY ($3::text[]::regclass[])
       OR EXISTS (SELECT 1
                  FROM unnest($4::text[], $5::text[]) AS u(tab, col)
                  JOIN pg_attribute a ON a.attrelid = u.tab::regclass AND a.attname = u.col
                  WHERE a.attrelid = i.indrelid
                    AND (a.attnum = ANY (i.indkey)
                         OR EXISTS (SELECT 1 FROM pg_depend d
                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
                                      AND d.refobjsubid = a.attnum))))
ORDER BY i.indexrelid
