/**
 * Self cost per function in a callgrind dump (`--compress-strings=no`): the cost lines under each
 * `fn=` header, not the inclusive line that follows a `calls=` line. `name` maps the raw function
 * name (e.g. an address of JIT code) to the name costs are summed under.
 */
export function selfCostsOf(text: string, name: (raw: string) => string = (raw) => raw): Map<string, number> {
  const costs = new Map<string, number>();
  let fn = '';
  let afterCall = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) fn = name(line.slice(3));
    else if (line.startsWith('calls=')) afterCall = true;
    else if (afterCall) afterCall = false;
    else if (/^[0-9+*-]/.test(line)) {
      const cost = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (!Number.isNaN(cost)) costs.set(fn, (costs.get(fn) ?? 0) + cost);
    }
  }
  return costs;
}
