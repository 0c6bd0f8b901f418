-- Every record of the persons $1 (internal ids), in record id order, with its person's public uuid.
SELECT
    r.id, p.uuid AS person_id, r.created, r.person_updated, r.matched_or_reviewed, r.data_source,
    r.source_person_id, r.first_name, r.last_name, r.sex, r.race, r.birth_date, r.death_date,
    r.social_security_number, r.address, r.city, r.state, r.zip_code, r.county, r.phone
FROM person_records r
JOIN persons p ON p.id = r.person_id
WHERE r.person_id = ANY($1)
ORDER BY r.id
