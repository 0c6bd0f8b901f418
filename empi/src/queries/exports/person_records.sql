-- The crosswalk: every record with its person's public id, in record id order.
SELECT 'p_' || p.uuid::text AS person_id,
       r.source_person_id, r.data_source, r.first_name, r.last_name, r.sex, r.race, r.birth_date,
       r.death_date, r.social_security_number, r.address, r.city, r.state, r.zip_code, r.county, r.phone
FROM person_records r
JOIN persons p ON p.id = r.person_id
ORDER BY r.id
