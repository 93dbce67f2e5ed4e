-- Issue 14: repair what events from a line's future left behind. The contract takes any ts up
-- to 2099, and until the gateway refused events ahead of its clock (from_the_future) and the
-- processors skipped them, one machine event dated 2090 held its station "Down since 2090"
-- for ever (the latest ts wins in station_state), and its minutes were folded up to 2090.
--
-- The bound: the whole UTC hour 25 hours after the hour of now(), so that everything deleted
-- is more than a day ahead of this migration, and that minute and hour rows go together (an
-- hour row exists exactly when the hour has a minute row: 0007). Events less far ahead are
-- kept: they are the present within a day. now() is the transaction's start, the same in
-- every statement below.
--
-- 1. delete the raw events at or after the bound, of both processors;
DELETE FROM station_event WHERE ts >= date_trunc('hour', now(), 'UTC') + interval '25 hours';
DELETE FROM floor_event WHERE ts >= date_trunc('hour', now(), 'UTC') + interval '25 hours';

-- 2. delete the minute and hour buckets at or after it. The minutes before it that were folded
-- towards a deleted event stay; they lie after the station's last machine change that is left,
-- where readers use the live tail instead of stored minutes, and its next change folds them
-- again;
DELETE FROM minute_bucket WHERE minute >= date_trunc('hour', now(), 'UTC') + interval '25 hours';
DELETE FROM hour_bucket WHERE hour >= date_trunc('hour', now(), 'UTC') + interval '25 hours';

-- 3. a station whose state came from a deleted event takes its latest machine event left, by
-- (ts, event_id) as the floor processor orders them (no state at all where none is left;
-- retention keeps each station's latest machine event, so one is left wherever there was
-- one), and `since` when that state began (0010);
UPDATE station_state AS s
SET (state, reason, state_ts, state_event_id) = (
    SELECT e.state, e.reason, e.ts, e.event_id
    FROM floor_event AS e
    WHERE e.factory = s.factory AND e.line = s.line AND e.station = s.station
      AND e.kind = 'machine'
    ORDER BY e.ts DESC, e.event_id COLLATE "C" DESC
    LIMIT 1)
WHERE s.state_ts >= date_trunc('hour', now(), 'UTC') + interval '25 hours';
UPDATE station_state AS s
SET since = station_since(s.factory, s.line, s.station, s.state, s.reason)
WHERE s.since >= date_trunc('hour', now(), 'UTC') + interval '25 hours';

-- 4. a station last seen at or after the bound is last seen at its latest event left (or its
-- state's, should retention have deleted the rest); one with nothing left was only ever heard
-- of from the future, and is forgotten until it reports again.
UPDATE station_state AS s
SET last_seen = coalesce(greatest(s.state_ts, (
    SELECT max(e.ts) FROM floor_event AS e
    WHERE e.factory = s.factory AND e.line = s.line AND e.station = s.station)), s.last_seen)
WHERE s.last_seen >= date_trunc('hour', now(), 'UTC') + interval '25 hours';

DELETE FROM station_state
WHERE last_seen >= date_trunc('hour', now(), 'UTC') + interval '25 hours';
