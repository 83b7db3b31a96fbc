export default async function globalTeardown() {
  await globalThis.__agRedis?.stop();
}
