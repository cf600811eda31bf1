// Long-lived entity workflows (the deploy queue, the release ledger) outlive upgrades: a run keeps the
// code path it started on, so at a safe point it continues as new, and the next run starts on the
// current code. This tells such a run, at a safe point, whether newer code than it started on runs it.
import { patched } from '@temporalio/workflow';

/**
 * Call once at the start of the workflow with the entity's code id ('<entity>-code-vN'; bump N when
 * a change should reach running entities, and list it in docs/operations.md "Patches in force").
 * The returned check, called at a safe point, is true when the run started on older code and this
 * point runs live: patched() gives false at every safe point the old code passed without continuing
 * (its history has no marker there) and true from the first live one, which records the marker.
 */
export function watchForNewerCode(codeId: string): () => boolean {
  const isStartedOnThisCode = patched(codeId);
  return () => !isStartedOnThisCode && patched(codeId);
}
