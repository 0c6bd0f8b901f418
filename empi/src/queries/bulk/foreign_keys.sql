-- The foreign keys from one of the given tables ($1) to another that a bulk write would check row by row: those of a
-- table that gets inserts ($2), or updates that set one of the key's columns (the pairs of $3 and $4: table, column).
-- Each with the statement that drops it and the one that adds it again (which validates every row in one join
-- instead of one lookup per written row).
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_statement,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS create_statement
FROM pg_constraint c
WHERE c.contype = 'f'
  AND c.conrelid = ANY ($1::text[]::regclass[])
  AND c.confrelid = ANY ($1::text[]::regclass[])
  AND (c.conrelid = ANY ($2::text[]::regclass[])
       OR EXISTS (SELECT 1
                  FROM unnest($3::text[], $4::text[]) AS u(tab, col)
                  JOIN pg_attribute a ON a.attrelid = u.tab::regclass AND a.attname = u.col
                  WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)))
ORDER BY c.oid
