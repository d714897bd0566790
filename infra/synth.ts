// `npm run synth`: synthesizes the CloudFormation template into cdk.out, offline, with no
// credentials (the stack is environment-agnostic), and prints what it holds.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createApp } from './app.ts';

const outdir = path.resolve('cdk.out');
rmSync(outdir, { recursive: true, force: true }); // assets of earlier synths would pile up
const assembly = createApp({ outdir }).synth();
for (const stack of assembly.stacks) {
  const template = JSON.parse(readFileSync(path.join(outdir, stack.templateFile), 'utf8')) as {
    Resources: Record<string, { Type: string }>;
  };
  const counts = new Map<string, number>();
  for (const resource of Object.values(template.Resources))
    counts.set(resource.Type, (counts.get(resource.Type) ?? 0) + 1);
  console.log(
    `${stack.stackName}: ${Object.keys(template.Resources).length} resources -> ` +
      path.join(outdir, stack.templateFile),
  );
  for (const [type, count] of [...counts].sort()) console.log(`  ${String(count).padStart(3)} ${type}`);
}
