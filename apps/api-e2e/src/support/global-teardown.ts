export default async function globalTeardown(): Promise<void> {
  await globalThis.__CIBOX_STACK__?.stop();
}
