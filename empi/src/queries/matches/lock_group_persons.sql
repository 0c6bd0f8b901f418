-- The persons of a match group (those of the records its results reference), locked in id order: the
-- documented lock order of manual edits is group, then persons by id, then records by id.
SELECT p.id, p.uuid, p.version
FROM persons p
WHERE p.id IN (
    SELECT r.person_id
    FROM prediction_results pr
    JOIN person_records r ON r.id IN (pr.person_record_l_id, pr.person_record_r_id)
    WHERE pr.match_group_id = $1
)
ORDER BY p.id
FOR UPDATE OF p
