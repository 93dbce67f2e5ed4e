-- A station's `since` is when the state in force began: the earliest of the machine events
-- after the latest one of another state or reason, by (ts, event_id). A machine event that
-- repeats the state in force (a station's heartbeat) no longer moves it. Until now `since`
-- held the latest machine event's ts and also told which event is the latest; that is now
-- `state_ts`.
ALTER TABLE station_state ADD COLUMN state_ts timestamptz;
UPDATE station_state SET state_ts = since;

-- floor_event keeps each machine event's state and reason, so that `since` is a function of
-- the set of events applied, whatever order they arrived in: a late event of another state
-- splits a run. Rows from before take them from the efficiency processor's copy of the event;
-- a row it no longer has counts as another state (a later `since`, never an earlier one).
ALTER TABLE floor_event ADD COLUMN state text, ADD COLUMN reason text;
UPDATE floor_event AS f SET state = e.state, reason = e.reason
FROM station_event AS e
WHERE f.kind = 'machine' AND e.factory = f.factory AND e.line = f.line
  AND e.event_id = f.event_id;
CREATE INDEX floor_event_machine_by_station ON floor_event (factory, line, station, ts)
    WHERE kind = 'machine';

-- When the state `state`/`reason` in force at a station began, from the machine events kept;
-- NULL where none of them is left.
CREATE FUNCTION station_since(f text, l text, s text, state text, reason text)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    WITH other AS (
        SELECT o.ts, o.event_id FROM floor_event AS o
        WHERE o.factory = f AND o.line = l AND o.station = s AND o.kind = 'machine'
          AND (o.state IS DISTINCT FROM station_since.state
               OR o.reason IS DISTINCT FROM station_since.reason)
        ORDER BY o.ts DESC, o.event_id COLLATE "C" DESC
        LIMIT 1)
    SELECT min(e.ts) FROM floor_event AS e
    WHERE e.factory = f AND e.line = l AND e.station = s AND e.kind = 'machine'
      AND NOT EXISTS (
          SELECT 1 FROM other
          WHERE (other.ts, other.event_id COLLATE "C") >= (e.ts, e.event_id COLLATE "C"))
$$;

UPDATE station_state
SET since = coalesce(station_since(factory, line, station, state, reason), since)
WHERE state IS NOT NULL;
