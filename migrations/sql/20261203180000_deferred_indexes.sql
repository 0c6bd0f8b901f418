-- The plain indexes a bulk write dropped and left to be built after it commits (see idem-empi's `bulk` module):
-- building them is most of a bulk write's index work and checks no rule, so it runs in its own transactions, beside
-- the step after the write, instead of inside the write. Only plain indexes are ever here: unique and foreign keys are
-- built and checked again inside the writing transaction. A row is removed in the transaction that builds its index.
-- `idem migrate` builds them all before it migrates, so a later migration finds every index it may change.
CREATE TABLE deferred_indexes (
    -- The index's name (as `regclass` prints it).
    name       text        PRIMARY KEY,
    table_name text        NOT NULL,
    -- `pg_get_indexdef` of the dropped index: exactly the index the migrations made.
    definition text        NOT NULL CHECK (definition LIKE 'CREATE INDEX %'),
    deferred   timestamptz NOT NULL DEFAULT now()
);
