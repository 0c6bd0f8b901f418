-- The job's scored pairs not already stored (a concurrent run may have scored the same new pair).
SELECT s.person_record_l_id, s.person_record_r_id, s.match_probability
FROM prediction_result_staging s
WHERE s.job_id = $1
  AND NOT EXISTS (
      SELECT 1 FROM prediction_results p
      WHERE p.person_record_l_id = s.person_record_l_id AND p.person_record_r_id = s.person_record_r_id
  )
ORDER BY s.person_record_l_id, s.person_record_r_id
