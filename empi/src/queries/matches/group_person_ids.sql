-- The ids of a match group's persons, read again once they are locked: a record can only leave a person
-- whose row lock the mover holds, so an unchanged set means no concurrent edit slipped in between.
SELECT DISTINCT r.person_id
FROM prediction_results pr
JOIN person_records r ON r.id IN (pr.person_record_l_id, pr.person_record_r_id)
WHERE pr.match_group_id = $1
ORDER BY r.person_id
