export default async function globalTeardownCluster() {
  await globalThis.__agCluster?.stop();
}
