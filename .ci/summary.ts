/**
 * Prints vitest's JSON report as one plain closing line, `tests: N passed, N failed, N skipped`,
 * so the CI log ends with counts any reader understands. Exits 1 when the report shows a failure
 * or no test at all.
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.ci/test-results.json';
const report = JSON.parse(readFileSync(file, 'utf8')) as {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
};
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
if (report.numFailedTests > 0 || report.numPassedTests === 0) process.exit(1);
