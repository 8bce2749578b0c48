/** LISTEN/NOTIFY channels EventFlow uses besides pg-boss's own. */

/** An append committed: payload is the stream id. */
export const APPENDS_CHANNEL = 'eventflow_appends';

/** An operator changed a group (pause, delete, offset reset): payload is the group id. */
export const GROUP_CHANNEL = 'eventflow_groups';
