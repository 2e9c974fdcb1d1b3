/** The benchmark's task: a reCAPTCHA v2 with a unique page URL, the same for every contender. */
const SITEKEY = '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-';

export const taskBody = (i: number): { type: 'recaptcha_v2'; params: { websiteURL: string; websiteKey: string } } =>
  ({ type: 'recaptcha_v2', params: { websiteURL: `https://shop${i}.example.com/login?n=${i}`, websiteKey: SITEKEY } });
