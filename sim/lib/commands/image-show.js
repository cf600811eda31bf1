// @ts-check
// `flyctl image show [--json]`: the image of every machine, all fields strings.
import { lookupApp } from '../app-lookup.js';
import { parseImageRef } from '../images.js';
import { renderJson } from '../json-output.js';
import { machinesById } from '../machines.js';
import { renderTable } from '../table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app, state } = lookupApp(ctx);
  const images = machinesById(app).map((machine) => {
    const { registry, repository, tag } = parseImageRef(machine.imageRef);
    return { MachineID: machine.id, Registry: registry, Repository: repository, Tag: tag, Version: 'N/A', Digest: state.images[machine.imageRef]?.digest ?? '', Labels: '' };
  });
  if (ctx.isJson) return ctx.out(renderJson(images));
  ctx.out(`Image Details\n${renderTable(['MACHINE ID', 'REGISTRY', 'REPOSITORY', 'TAG', 'VERSION', 'DIGEST'], images.map((image) => [image.MachineID, image.Registry, image.Repository, image.Tag, image.Version, image.Digest]))}`);
}
