-- A result's explain data (`match_key`, Bayes factors, term frequencies, levels) is written once, by the score step,
-- and always read whole (the API decodes it as one document). `json` keeps it as the validated text the scorer wrote;
-- `jsonb` parsed every one of its twenty-odd numbers into `numeric` on the way in (measured on the first import of a
-- million records: the score step's `COPY` of 427k staged results took 7.2 s into `jsonb` and 4.3 s into `json`).
ALTER TABLE prediction_result_staging ALTER COLUMN data TYPE json USING data::json;
ALTER TABLE prediction_results ALTER COLUMN data TYPE json USING data::json;
