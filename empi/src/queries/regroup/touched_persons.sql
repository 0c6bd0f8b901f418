-- The persons of the records of every result in a touched group.
INSERT INTO regroup_persons (id)
SELECT rec.person_id
FROM regroup_groups g
JOIN prediction_results res ON res.match_group_id = g.id
JOIN person_records rec ON rec.id = res.person_record_l_id
UNION
SELECT rec.person_id
FROM regroup_groups g
JOIN prediction_results res ON res.match_group_id = g.id
JOIN person_records rec ON rec.id = res.person_record_r_id
ON CONFLICT DO NOTHING
