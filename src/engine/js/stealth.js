// bypassBotDetection profile: what headless automation gives away most often.
Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => undefined, configurable: true });
Object.defineProperty(Navigator.prototype, 'languages', { get: () => ['en-US', 'en'], configurable: true });
if (!window.chrome) { window.chrome = { runtime: {} }; }
