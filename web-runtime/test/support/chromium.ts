// How every browser test launches Chromium: the Debian build, headless, no sandbox (root in a container),
// and nothing that reaches for the network on its own.
export const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
};
