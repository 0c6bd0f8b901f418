-- Every result of the group $1, best first, with the config its job scored it with (for level labels).
SELECT
    r.id, r.created, r.match_weight, r.match_probability, r.person_record_l_id, r.person_record_r_id,
    r.data, j.config_id
FROM prediction_results r
JOIN jobs j ON j.id = r.job_id
WHERE r.match_group_id = $1
ORDER BY r.match_probability DESC, r.person_record_l_id, r.person_record_r_id
