-- One new person per fresh row and the row as its record, paired by rank: the k-th new person (by id)
-- gets the k-th fresh row (by line). Record ids therefore follow the file's order.
WITH new_persons AS (
    INSERT INTO persons (uuid, created, updated, job_id, record_count)
    SELECT gen_random_uuid(), $2, $2, $1, 1
    FROM generate_series(1, $3::bigint)
    RETURNING id
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS rn FROM new_persons
)
INSERT INTO person_records (
    created, job_id, person_id, person_updated, sha256, data_source, source_person_id, first_name, last_name,
    sex, race, birth_date, death_date, social_security_number, address, city, state, zip_code, county, phone
)
SELECT $2, $1, n.id, $2, s.sha256, s.data_source, s.source_person_id, s.first_name, s.last_name, s.sex,
       s.race, s.birth_date, s.death_date, s.social_security_number, s.address, s.city, s.state, s.zip_code,
       s.county, s.phone
FROM load_fresh f
JOIN person_record_staging s ON s.id = f.staging_id
JOIN numbered n ON n.rn = f.rn
ORDER BY f.rn
