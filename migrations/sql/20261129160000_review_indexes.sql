-- Indexes for the review API's list pages (GET /persons, GET /match-events).
--
-- GET /persons orders persons by the (last_name, first_name) of their first record (lowest record id). The page
-- query walks person_records in this index's order, keeps the records that are the first of their person
-- (checked through person_records_person) and stops after the page: a LIMIT over an index scan instead of
-- sorting every person. The id makes the order total, so pages never overlap or skip a person.
CREATE INDEX person_records_name_order ON person_records (last_name, first_name, id);

-- GET /match-events (newest first) and a person's history page through events by id; the filter by type
-- reads this index instead of every event.
CREATE INDEX match_events_type ON match_events (type, id);
