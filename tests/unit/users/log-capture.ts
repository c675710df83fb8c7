export { captureLogs, LEVEL, type LogRecord } from '../../helpers/logs.ts';
